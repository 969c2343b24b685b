/** Taxonomy rules shared by the worker and the web app: naming, near-duplicates, graph usage. */
export * from './normalize';
export * from './duplicates';
export * from './naming';
export * from './graph-usage';
export * from './wecom';
