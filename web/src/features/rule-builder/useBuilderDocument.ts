import { computed, onMounted, ref, shallowRef, watch, type Ref } from 'vue';
import { RULE_SCHEMA_VERSION, type RuleGraph } from '@shared/rules/types';
import { getFieldCatalog } from '../../app/api/rules';
import { errorMessage } from '../../app/errors';
import { useTagsStore } from '../tags/useTagsStore';
import { useRuleDocStore } from './useRuleDocStore';
import { useRuleEditorUi } from './useRuleEditorUi';
import { customFieldsFromCatalog } from './catalog';

/**
 * Opens one rule or segment in the builder: the object and the field catalog (its custom fields)
 * in parallel, its graph (or the starter graph when it has none) into the document store, and the
 * tags the pickers offer. Reloads when the route's id changes. The name is edited beside the graph,
 * so "unsaved" means either changed.
 */
export function useBuilderDocument<T extends { name: string }>(opts: {
  mode: 'rule' | 'segment';
  id: () => number;
  fetch: (id: number) => Promise<T>;
  graphOf: (item: T) => RuleGraph | null | undefined;
  starter: () => RuleGraph;
  /** After the document is in the store: the screen reads what else it needs and starts its preview. */
  loaded: (item: T) => void;
  /** Whether the viewer may only look (the document store then refuses every edit). */
  readOnly?: (item: T) => boolean;
}) {
  const doc = useRuleDocStore();
  const ui = useRuleEditorUi();
  const tags = useTagsStore();
  const item = shallowRef<T | null>(null) as Ref<T | null>;
  const loadError = ref<string | null>(null);
  const name = ref('');

  async function load() {
    loadError.value = null;
    ui.clear();
    try {
      const [loaded, catalog] = await Promise.all([opts.fetch(opts.id()), getFieldCatalog().catch(() => null)]);
      item.value = loaded;
      name.value = loaded.name;
      const g = opts.graphOf(loaded);
      doc.load(
        { ...(g?.nodes?.length ? g : opts.starter()), schemaVersion: RULE_SCHEMA_VERSION },
        {
          mode: opts.mode,
          customFields: catalog ? customFieldsFromCatalog(catalog) : [],
          ...(catalog ? { timezone: catalog.timezone } : {}),
          readOnly: opts.readOnly?.(loaded) ?? false,
        },
      );
      opts.loaded(loaded);
    } catch (e) {
      loadError.value = errorMessage(e);
    }
  }
  onMounted(() => {
    tags.load();
    load();
  });
  watch(opts.id, load);

  const nameDirty = computed(() => !!item.value && name.value.trim() !== item.value.name);
  const dirty = computed(() => doc.dirty || nameDirty.value);
  return { item, loadError, name, dirty, load };
}
