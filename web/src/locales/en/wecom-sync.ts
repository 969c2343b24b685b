export default {
  wecomSync: {
    ops: {
      title: 'Corp tag renames and deletions',
      counts: 'Queued {queued} · done {done} · failed {failed}',
      help: 'Renaming a synced tag or tag group in Segflow renames it in WeCom (edit_corp_tag); retiring a synced tag deletes the corp tag in WeCom (del_corp_tag), which removes it from every customer.',
      kinds: { tag: 'Tag', group: 'Tag group' },
      ops: { rename: 'renamed to “{name}”', delete: 'deleted “{name}”' },
      status: { queued: 'Queued', done: 'Done', failed: 'Failed' },
      retry: 'Retry failed operations',
      retryHint: 'Clear the clash in WeCom’s admin console first (e.g. a tag of the same name), then retry',
    },
    overrides: {
      title: 'WeCom edits reverted',
      help: 'When a tag that Segflow decides is edited by hand in WeCom, Segflow records each edit and takes WeCom back to the rules’ result at the next push.',
      empty: 'No manual edits in WeCom yet',
      refresh: 'Refresh',
      columns: {
        at: 'Found',
        contact: 'Customer',
        user: 'Follow user',
        tag: 'Tag',
        op: 'Edit in WeCom',
        reverted: 'Reverted',
      },
      ops: { added: 'added', removed: 'removed' },
      pending: 'waiting for the push',
      total: '{n} in all',
    },
    retire: {
      loading: 'Checking what this does in WeCom…',
      deletes:
        'Retiring deletes the corp tag “{name}” in WeCom “{corp}”: it leaves {customers} customers ({relations} follow-user relations) for good; restoring the tag in Segflow creates a new corp tag.',
      keeps:
        'The corp tag “{name}” in WeCom “{corp}” was not created by this app, so Segflow cannot delete it (301002): it stays on {customers} customers in WeCom; handle it in WeCom’s admin console.',
    },
  },
};
