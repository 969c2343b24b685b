/**
 * The demo generator's contacts as a learning set for "purchases within 30 days": each contact
 * as the evaluators read it (`evalDataFromRows`), rewound to the end of day D − 30
 * (`snapshotAt`, tags from its ledger), labelled by its purchases in the 30 days after. For tests
 * and `bench/learn.ts`; the worker reads the same rows from D1.
 */
import { generateDemo } from '../demo/generate';
import { PLANTED_REPURCHASE } from '../demo/planted';
import { evalDataFromRows, type ContactRows } from '../rules/data';
import type { CustomFieldDecl } from '../rules/fields';
import type { EvalData } from '../rules/types';
import { SHANGHAI_OFFSET_MINUTES } from '../time';
import { asOfEnd, futureEventCount, snapshotAt, type TagChange } from './features';

/** Contacts that existed at D − N, their snapshots then, and their labels. */
export interface LearningSet {
  /** Contact ids, row by row. */
  ids: number[];
  /** Each contact as of the end of day D − N (`now` set there). */
  snapshots: EvalData[];
  /** 1 when the contact bought in (D − N, D]. */
  labels: Uint8Array;
  customFields: CustomFieldDecl[];
  /** The end of day D − N. */
  asOf: number;
}

/**
 * The demo's repurchase learning set from `contacts` generated with `seed` at `now`; with `rows`,
 * enough contacts are generated for that many to have existed at D − N, and the set stops there.
 */
export function demoLearningSet(o: { contacts: number; seed: number; now: number; avgEvents?: number; rows?: number }): LearningSet {
  const days = PLANTED_REPURCHASE.labelDays;
  const asOf = asOfEnd(o.now, days, SHANGHAI_OFFSET_MINUTES);
  const set: LearningSet = { ids: [], snapshots: [], labels: new Uint8Array(0), customFields: [], asOf };
  const labels: number[] = [];
  // about 79% of the demo's contacts existed 30 days before now
  const contacts = o.rows === undefined ? o.contacts : Math.ceil(o.rows / 0.7);
  for (const part of generateDemo({ contacts, seed: o.seed, now: o.now, avgEvents: o.avgEvents, batchSize: 2000 })) {
    if (o.rows !== undefined && set.ids.length >= o.rows) break;
    if (part.kind === 'static') {
      set.customFields = part.data.customFields.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type }));
    }
    if (part.kind !== 'batch') continue;
    const rows = new Map<number, { rows: ContactRows; ledger: TagChange[] }>();
    for (const c of part.data.contacts)
      rows.set(c.id, { rows: { contact: c as unknown as Record<string, unknown>, tagIds: [], stats: [], events: [] }, ledger: [] });
    for (const t of part.data.contactTags) rows.get(t.contact_id)?.rows.tagIds?.push(t.tag_id);
    for (const s of part.data.dailyStats) rows.get(s.contact_id)?.rows.stats?.push(s);
    for (const e of part.data.events) rows.get(e.contact_id)?.rows.events?.push(e);
    for (const l of part.data.tagLedger) rows.get(l.contact_id)?.ledger.push({ tagId: l.tag_id, op: l.op, at: l.at });
    for (const [id, r] of rows) {
      const now = evalDataFromRows(r.rows, o.now, SHANGHAI_OFFSET_MINUTES);
      const snap = snapshotAt(now, asOf, r.ledger);
      if (!snap || (o.rows !== undefined && set.ids.length >= o.rows)) continue;
      set.ids.push(id);
      set.snapshots.push(snap);
      labels.push(futureEventCount(now, 'purchase', asOf, days) > 0 ? 1 : 0);
    }
  }
  set.labels = Uint8Array.from(labels);
  return set;
}
