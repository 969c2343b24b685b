/**
 * Lifts stored rule graphs to the current `schemaVersion` through named, ordered steps (as
 * tldraw migrates its shapes), so a rule saved today still opens next year. A step is pure and
 * takes the document at version N to N + 1; add one whenever the graph format changes.
 */
import { RULE_SCHEMA_VERSION } from './types';
import { ruleError, type RuleResult } from './errors';

/** One upgrade step: from `from` to `from + 1`. */
export interface UpgradeStep {
  from: number;
  name: string;
  up: (doc: Record<string, unknown>) => Record<string, unknown>;
}

/**
 * The steps, in order. Version 0 is the pre-release draft format that had no `schemaVersion`
 * and called edges `links`; it is the one step so far and documents how to write the next.
 */
export const UPGRADE_STEPS: readonly UpgradeStep[] = [
  {
    from: 0,
    name: 'add-schema-version-and-rename-links',
    up: (doc) => {
      const { links, ...rest } = doc;
      return { ...rest, edges: rest.edges ?? links ?? [], schemaVersion: 1 };
    },
  },
];

/** Brings a stored document to `RULE_SCHEMA_VERSION`; refuses documents from a newer Segflow. */
export function upgradeGraph(input: unknown): RuleResult<unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [ruleError(null, 'invalid_document', 'a rule graph must be a JSON object')] };
  }
  let doc = input as Record<string, unknown>;
  let version = doc.schemaVersion === undefined ? 0 : doc.schemaVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    return { ok: false, errors: [ruleError(null, 'unsupported_version', `schemaVersion ${String(version)} is not a version`)] };
  }
  if (version > RULE_SCHEMA_VERSION) {
    return {
      ok: false,
      errors: [ruleError(null, 'unsupported_version', `schemaVersion ${version} is newer than this Segflow (${RULE_SCHEMA_VERSION})`)],
    };
  }
  while (version < RULE_SCHEMA_VERSION) {
    const step = UPGRADE_STEPS.find((s) => s.from === version);
    if (!step) return { ok: false, errors: [ruleError(null, 'unsupported_version', `no upgrade step from version ${version}`)] };
    doc = step.up(doc);
    version += 1;
  }
  return { ok: true, value: doc };
}
