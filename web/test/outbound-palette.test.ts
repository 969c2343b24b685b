import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { compileRule } from '@shared/rules/compile';
import { paletteItem } from '../src/features/rule-builder/palette';
import { createNode, emptyAction } from '../src/features/rule-builder/rule-graph';
import { useRuleDocStore } from '../src/features/rule-builder/useRuleDocStore';

describe('palette payloads', () => {
  it('reads a kind, or an action with an outbound preset, and refuses anything else', () => {
    expect(paletteItem('condition')).toEqual({ kind: 'condition' });
    expect(paletteItem('action:call_webhook')).toEqual({ kind: 'action', preset: 'call_webhook' });
    expect(paletteItem('action:notify')).toEqual({ kind: 'action', preset: 'notify' });
    expect(paletteItem('action:add_tag')).toBeNull();
    expect(paletteItem('condition:notify')).toBeNull();
    expect(paletteItem('nonsense')).toBeNull();
    expect(paletteItem('')).toBeNull();
  });
});

describe('new outbound actions', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('start empty, so the compiler names the node until a destination (and a text) is chosen', () => {
    const n = createNode('action', { x: 0, y: 0 }, { action: 'notify' });
    expect(n).toMatchObject({ kind: 'action', action: { type: 'notify', destinationId: 0, text: '' } });
    expect(emptyAction('call_webhook')).toEqual({ type: 'call_webhook', destinationId: 0 });
    const graph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
        { ...n, id: 'n' },
      ],
      edges: [{ id: 'e', source: 't', target: 'n' }],
    };
    const r = compileRule(graph);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.every((e) => e.nodeId === 'n' && e.code === 'invalid_document')).toBe(true);
  });

  it('are added to the document with their preset by the store', () => {
    const doc = useRuleDocStore();
    const n = doc.addNode('action', { x: 10.4, y: 20.6 }, 'call_webhook');
    expect(doc.nodeById.get(n.id)).toMatchObject({ kind: 'action', position: { x: 10, y: 21 }, action: { type: 'call_webhook' } });
  });
});
