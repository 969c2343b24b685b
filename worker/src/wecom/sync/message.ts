/**
 * Messages of the `segflow-wecom-sync` queue: a backfill page (`step`: the run and the step it is
 * for, so a redelivered or stale page is recognised), a callback's sync hint (re-read one
 * contact, the tag library or one group chat), or a push (`push`: bring one contact's synced,
 * Segflow-owned corp tags in WeCom to Segflow's state, one mark_tag per relation; wecom/push/).
 */
import type { WecomSyncHint } from '../map';

export const WECOM_SYNC_QUEUE = 'segflow-wecom-sync';
export const WECOM_SYNC_DEAD_QUEUE = 'segflow-wecom-sync-dead';

export type WecomSyncMessage =
  | { v: 1; type: 'step'; runId: number; step: number }
  | { v: 1; type: 'hint'; connectionId: number; hint: WecomSyncHint }
  | { v: 1; type: 'push'; connectionId: number; contactId: number }
  /** a push hint: drain the tag ledger into push messages now, not at the next cron minute (push/hint.ts) */
  | { v: 1; type: 'drain'; connectionId: number }
  /** bring one mirrored corp tag or group to Segflow's state: renamed (edit_corp_tag) or deleted (del_corp_tag); push/tag-ops.ts */
  | { v: 1; type: 'tag_op'; connectionId: number; kind: 'group' | 'tag'; wecomId: string };

export function isSyncMessage(x: unknown): x is WecomSyncMessage {
  if (!x || typeof x !== 'object') return false;
  const m = x as Record<string, unknown>;
  if (m.v !== 1) return false;
  if (m.type === 'step') return typeof m.runId === 'number' && typeof m.step === 'number';
  if (m.type === 'hint') return typeof m.connectionId === 'number' && !!m.hint && typeof m.hint === 'object';
  if (m.type === 'push') return typeof m.connectionId === 'number' && typeof m.contactId === 'number';
  if (m.type === 'drain') return typeof m.connectionId === 'number';
  if (m.type === 'tag_op')
    return typeof m.connectionId === 'number' && (m.kind === 'group' || m.kind === 'tag') && typeof m.wecomId === 'string';
  return false;
}

export async function sendSync(env: Pick<Env, 'WECOM_SYNC'>, body: WecomSyncMessage, delaySeconds = 0): Promise<void> {
  await env.WECOM_SYNC.send(body, { contentType: 'json', ...(delaySeconds > 0 ? { delaySeconds } : {}) });
}

/** A callback's hints for a linked connection, on the sync queue (one message each). */
export async function enqueueHints(env: Pick<Env, 'WECOM_SYNC'>, connectionId: number, hints: readonly WecomSyncHint[]): Promise<void> {
  if (!hints.length) return;
  await env.WECOM_SYNC.sendBatch(
    hints.map((hint) => ({ body: { v: 1, type: 'hint', connectionId, hint } satisfies WecomSyncMessage, contentType: 'json' as const })),
  );
}
