/** Contact import: column mapping, value shapes and the checks run before anything is written. */
export * from './fields';
export * from './validate';
