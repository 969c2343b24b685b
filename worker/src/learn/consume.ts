/**
 * The `segflow-suggestions` queue's consumers. One message trains one suggestion
 * (`runSuggestion`, which ends it `done` or `failed` itself, so the message is acked either way);
 * a message that still fails (the runtime killed the job, D1 was unreachable) is retried, and
 * after its last attempt the dead-letter consumer marks the suggestion failed: none stays `running`.
 */
import { isSuggestionMessage } from './message';
import { runSuggestion } from './run';
import { markFailed } from './store';

export async function consumeSuggestions(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    if (!isSuggestionMessage(msg.body)) {
      console.error('suggestions: dropped a message that is not a suggestion', msg.id);
      msg.ack();
      continue;
    }
    try {
      await runSuggestion(env, msg.body.suggestionId);
      msg.ack();
    } catch (err) {
      console.error(`suggestion ${msg.body.suggestionId}: attempt ${msg.attempts} failed`, err);
      msg.retry({ delaySeconds: 10 });
    }
  }
}

export async function consumeSuggestionsDead(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    if (isSuggestionMessage(msg.body))
      await markFailed(
        env.DB,
        msg.body.suggestionId,
        'job_failed',
        'The training job stopped before finishing on every attempt (likely the platform’s time or memory limit): try a smaller department or a shallower tree.',
        Date.now(),
      ).run();
    msg.ack();
  }
}
