/** The segment compiler lives in shared/ (the rule compiler expands segment references with it). */
export { AUDIENCE_NODE, compileSegment, type CompiledSegment } from '@shared/rules/segment';
