/** Outbound actions on the rule canvas: call a webhook, notify the contact's owner. */
export default {
  outbound: {
    palette: {
      call_webhook: 'Call webhook',
      call_webhookHint: 'Tell another system when a contact’s tags change',
      notify: 'Notify owner',
      notifyHint: 'Send the contact’s owner a message',
    },
    type: { call_webhook: 'Call webhook', notify: 'Notify owner' },
    verb: { call_webhook: 'Call', notify: 'Notify' },
    destination: 'Destination',
    pickDestination: 'Choose a destination',
    noDestination: 'No destination yet: a super admin adds one on the',
    noDestinationLink: 'Data sources',
    noDestinationTail: 'screen.',
    unknownDestination: 'Destination #{id}',
    text: 'Message',
    textPlaceholder: "e.g. {'{name}'} just became a high-value customer ({'{tags}'})",
    insert: 'Insert:',
    placeholder: { name: 'contact name', rule: 'rule name', tags: 'tag changes' },
    calls: 'Publishing calls {n}×',
    callsTitle: 'At publish: contacts reaching this node whose tags publishing changes (one call each)',
    eventHint: 'Event-triggered rule: afterwards, one call per event that reaches this node.',
    whenHint: 'Calls only when the run changes the contact’s tags; contacts whose tags stay the same are not called.',
    publishLine: 'Publishing will call «{name}» {n} times',
  },
};
