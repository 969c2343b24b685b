/**
 * The Workers `queue` handler: every queue of wrangler.toml is consumed by this worker, and a
 * batch goes to the consumer of its queue by name.
 *
 * - `segflow-intake`: webhook events accepted by the routes, run through the ingest pipeline;
 * - `segflow-intake-dead`: intake messages that failed every attempt, kept in D1;
 * - `segflow-deliveries`: outbound deliveries (call-webhook, notify);
 * - `segflow-deliveries-dead`: deliveries that failed every attempt, listed for a retry;
 * - `segflow-wecom-sync` (+ `-dead`): WeCom backfill pages and callback sync hints (wecom/sync/);
 * - `segflow-suggestions` (+ `-dead`): learned rule suggestions, one training job a message (learn/).
 */
import { consumeDeadDeliveries, consumeDeliveries } from './outbound/consume';
import type { DeliveryMessage } from './outbound/enqueue';
import { consumeIntake } from './ingest/consumer';
import { consumeIntakeDead } from './ingest/dead-letters';
import { consumeWecomSync, consumeWecomSyncDead } from './wecom/sync/consume';
import { WECOM_SYNC_DEAD_QUEUE, WECOM_SYNC_QUEUE } from './wecom/sync/message';
import { consumeSuggestions, consumeSuggestionsDead } from './learn/consume';
import { SUGGESTIONS_DEAD_QUEUE, SUGGESTIONS_QUEUE } from './learn/message';
import { hintingAfter } from './wecom/push/hint';

export const QUEUES = {
  intake: 'segflow-intake',
  intakeDead: 'segflow-intake-dead',
  deliveries: 'segflow-deliveries',
  deliveriesDead: 'segflow-deliveries-dead',
  wecomSync: WECOM_SYNC_QUEUE,
  wecomSyncDead: WECOM_SYNC_DEAD_QUEUE,
  suggestions: SUGGESTIONS_QUEUE,
  suggestionsDead: SUGGESTIONS_DEAD_QUEUE,
} as const;

export const queue: ExportedHandlerQueueHandler<Env> = async (batch, env) => {
  switch (batch.queue) {
    case QUEUES.deliveries:
      return consumeDeliveries(batch as MessageBatch<DeliveryMessage>, env);
    case QUEUES.deliveriesDead:
      return consumeDeadDeliveries(batch as MessageBatch<DeliveryMessage>, env);
    case QUEUES.intake:
      // rules run on webhook events: a synced tag they change is pushed to WeCom right after (wecom/push/hint.ts)
      return hintingAfter(env, () => consumeIntake(batch, { db: env.DB, env }));
    case QUEUES.intakeDead:
      return consumeIntakeDead(batch, env);
    case QUEUES.wecomSync:
      return consumeWecomSync(batch, env);
    case QUEUES.wecomSyncDead:
      return consumeWecomSyncDead(batch, env);
    case QUEUES.suggestions:
      return consumeSuggestions(batch, env);
    case QUEUES.suggestionsDead:
      return consumeSuggestionsDead(batch, env);
    default:
      // a queue this worker does not know: leave its messages for a deployment that does
      console.error(`queue: no consumer for "${batch.queue}"; ${batch.messages.length} messages retried`);
      batch.retryAll({ delaySeconds: 60 });
  }
};
