/**
 * Messages of the `segflow-suggestions` queue: one message trains one suggestion (its row holds
 * the parameters), so a redelivery finds the row and either runs it again or sees it finished.
 */
export const SUGGESTIONS_QUEUE = 'segflow-suggestions';
export const SUGGESTIONS_DEAD_QUEUE = 'segflow-suggestions-dead';

export interface SuggestionMessage {
  v: 1;
  suggestionId: number;
}

export function isSuggestionMessage(x: unknown): x is SuggestionMessage {
  if (!x || typeof x !== 'object') return false;
  const m = x as Record<string, unknown>;
  return m.v === 1 && typeof m.suggestionId === 'number' && Number.isInteger(m.suggestionId);
}

export async function sendSuggestion(env: Pick<Env, 'SUGGESTIONS'>, suggestionId: number): Promise<void> {
  await env.SUGGESTIONS.send({ v: 1, suggestionId } satisfies SuggestionMessage, { contentType: 'json' });
}
