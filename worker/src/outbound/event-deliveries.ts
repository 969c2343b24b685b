/**
 * Deliveries of event-triggered rules: a call-webhook / notify node fires once per triggering
 * event that reaches it, whether or not the event changed the contact's tags (the event itself
 * is the news: "a message mentions 价格 → tell the owner"). The ingest pipeline collects the
 * firings while it simulates (`OutboundFiring`), and once its write batch has committed hands
 * them here: one D1 read (contacts — new ones have ids only now —, tag and rule names), then the
 * deliveries queue.
 */
import { fillNotifyText } from '@shared/rules/outbound';
import type { OutboundActionSpec } from '@shared/rules/types';
import { batch, typed, type ContactRow } from '../db/rows';
import { deliveryId, enqueueDeliveries, type DeliveryMessage } from './enqueue';

/** One outbound node one event reached. */
export interface OutboundFiring {
  ruleId: number;
  ruleVersion: number;
  nodeId: string;
  action: OutboundActionSpec;
  externalId: string;
  /** `<source id>:<sender's event id>`: the run this delivery belongs to (event ids are unique per source only). */
  eventRef: string;
  /** What this rule did to the contact's tags on this event (often nothing). */
  tagChanges: { tagId: number; op: 'add' | 'remove' }[];
}

/** Builds and enqueues the deliveries of committed firings. Throws when D1 or the queue fails. */
export async function sendEventDeliveries(
  db: D1Database,
  queue: Pick<Env, 'DELIVERIES'>,
  firings: readonly OutboundFiring[],
  at: number,
): Promise<number> {
  if (firings.length === 0) return 0;
  const exts = JSON.stringify([...new Set(firings.map((f) => f.externalId))]);
  const tagIds = JSON.stringify([...new Set(firings.flatMap((f) => f.tagChanges.map((c) => c.tagId)))]);
  const ruleIds = JSON.stringify([...new Set(firings.map((f) => f.ruleId))]);
  type Named = { id: number; name: string };
  const [contacts, tags, rules] = await batch(db, [
    typed<Pick<ContactRow, 'id' | 'external_id' | 'name' | 'owner_user_id'>>(
      db
        .prepare('SELECT id, external_id, name, owner_user_id FROM contacts WHERE external_id IN (SELECT value FROM json_each(?))')
        .bind(exts),
    ),
    typed<Named>(db.prepare('SELECT id, name FROM tags WHERE id IN (SELECT value FROM json_each(?))').bind(tagIds)),
    typed<Named>(db.prepare('SELECT id, name FROM rules WHERE id IN (SELECT value FROM json_each(?))').bind(ruleIds)),
  ]);
  const contactByExt = new Map(contacts.results.map((c) => [c.external_id, c]));
  const tagName = new Map(tags.results.map((t) => [t.id, t.name]));
  const ruleName = new Map(rules.results.map((r) => [r.id, r.name]));
  const out: DeliveryMessage[] = [];
  for (const f of firings) {
    const c = contactByExt.get(f.externalId);
    if (!c) continue; // the write committed, so the contact exists; a contact deleted since is nobody to tell about
    const rule = ruleName.get(f.ruleId) ?? '';
    const tagChanges = f.tagChanges.map((t) => ({
      tagId: t.tagId,
      tagName: tagName.get(t.tagId) ?? `#${t.tagId}`,
      change: t.op === 'add' ? ('added' as const) : ('removed' as const),
    }));
    out.push({
      id: await deliveryId({ ruleId: f.ruleId, ruleVersion: f.ruleVersion, nodeId: f.nodeId, contactId: c.id, runRef: f.eventRef }),
      destinationId: f.action.destinationId,
      kind: f.action.type,
      rule: { id: f.ruleId, version: f.ruleVersion, name: rule, nodeId: f.nodeId },
      contact: { id: c.id, externalId: c.external_id, name: c.name, ownerUserId: c.owner_user_id },
      tagChanges,
      ...(f.action.type === 'notify' ? { text: fillNotifyText(f.action.text, { name: c.name, rule, tags: tagChanges }) } : {}),
      cause: { kind: 'event', ref: f.eventRef },
      at,
    });
  }
  await enqueueDeliveries(queue, out);
  return out.length;
}
