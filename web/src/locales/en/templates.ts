/** The 新建规则 template gallery: cards and side notes (one per template of shared/src/templates/). */
export default {
  templates: {
    title: 'New rule',
    subtitle:
      'Start from a template: one click makes a draft, creates the tags it needs (reusing existing or look-alike ones) and counts the preview',
    blank: 'Blank canvas',
    blankSummary: 'Start from a trigger and build it yourself',
    use: 'Use this template',
    useBlank: 'Create a blank rule',
    creating: 'Creating…',
    trigger: { schedule: 'Scheduled', event: 'On event' },
    tagsTitle: 'Tags it uses',
    tagExists: 'exists',
    tagNew: 'new',
    seed: 'Source: seed article {seed}',
    outboundOn: 'A notify channel exists: the owner is told at mute and removal',
    outboundOff: 'No notify channel yet: no notify actions; add a destination, then add them on the canvas',
    tagCount: '{n} tag, it exists | {n} tags, all exist',
    tagCountNew: '{n} tag, to create | {n} tags, {m} to create',
    createdReused: 'Draft made from “{name}” with the {reused} existing tags',
    created: 'Draft made from “{name}”: {created} tags created, {reused} reused',
    reusedNear: '“{wanted}” is another spelling of the existing tag “{name}”: using “{name}”',
    similarElsewhere: 'The new tag “{created}” looks like “{group} › {name}”: check whether they should be merged',
    noteTitle: 'About this template',
    editorNote: 'About the template',
    items: {
      rfm: {
        name: 'RFM value tiers',
        summary: 'Recency, frequency and spend make three tiers: high value / potential / normal',
        note: 'Recomputed daily at 03:00. Active in the last 30 days, at least 4 messages in 30 days (weekly contact) and at least ¥1,500 spent in 90 days (¥500 a month): 高价值客户 (high value). Anyone else active in the last 90 days: 潜力客户 (potential). Everyone else: 普通客户 (normal). The tiers share an exclusive tag group, so a contact holds one, and moving tier removes the old tag. Change the thresholds in the condition nodes.',
      },
      member_score: {
        name: 'Group member score',
        summary: 'Speaking 30%, content 25%, activities 20%, invites 15%, violations −10; four bands',
        note: 'Recomputed every Monday, group members only. Five weighted factors: messages (full at 60) 30 points, articles opened in 30 days (full at 5) 25, activity groups joined in 90 days (full at 2) 20, invites (full at 5) 15; violations are a penalty, 3 or more take the full 10 points. The article counts a clean record as 10 of its 100 points; here only violations count, so a member scores exactly 10 less than in the article and each band edge moves down by 10: ≥ 70 core (article: > 80), 50–70 active, 30–50 normal, < 30 watch list.',
      },
      lifecycle: {
        name: 'Customer lifecycle',
        summary: 'New → active → silent → lost, one stage per contact',
        note: 'Recomputed daily; the first stage that holds wins. Added less than 30 days ago: 新客 (new). Active in the last 30 days: 活跃客户 (active). Active in the last 180 days: 沉睡客户 (silent: time to win them back). Everyone else (no interaction for 180 days, or never): 流失客户 (lost). The stages share the exclusive group 生命周期, so entering a stage removes the previous one. The “inactive 180 days → 待激活” template writes the same group: do not publish both for the same contacts.',
      },
      violation_ladder: {
        name: 'Violation ladder',
        summary: '1st and 2nd violation a warning, 3rd a mute, 4th removal',
        note: 'Runs on each violation event (the count includes it): the 1st and 2nd give 违规警告 (a private warning, then a public one), the 3rd 禁言 (a 24-hour mute), the 4th and later 移出群聊 (removal). The tags are exclusive, so each step replaces the last. Segflow cannot mute or remove anyone in WeChat: when a notify channel exists, the 3rd and 4th steps also tell the contact’s owner to do it.',
      },
      keyword_tagging: {
        name: 'Keyword auto-tagging',
        summary: 'Messages mentioning agency or partnership → 意向代理; complaints or refunds → 待跟进',
        note: 'Checks every incoming message: any of 代理, 合作, 加盟 adds 意向代理 (prospective agent); any of 投诉, 退款, 没发货 adds 待跟进 (follow up); a message with both adds both. Keywords match the text exactly (case-sensitive); edit them in the condition nodes. In the preview a keyword condition counts as met: the numbers say who would be tagged when such a message comes.',
      },
      qr_channel: {
        name: 'QR code channel source',
        summary: 'The channel of the scanned QR code becomes the source tag',
        note: 'Runs on each QR scan (the WeCom “contact me” State is the channel): channel 扫码-门店A adds the tag 扫码-门店A, and the same for 扫码-门店B. The source group is exclusive, so the latest scan wins. Rename the branch cases to your own channel codes, one case per channel.',
      },
      inactive_180: {
        name: 'Inactive 180 days → 待激活',
        summary: 'Contacts with no interaction for six months move to 待激活 (to reactivate)',
        note: 'Checked daily: last interaction more than 180 days ago, or never active and added more than 180 days ago, adds 待激活. It lives in the exclusive group 生命周期, so it replaces stage tags such as 活跃客户. It does not take 待激活 away when the contact comes back: after a successful win-back, update the stage by hand or with another rule. Use 待激活 in a segment for a win-back campaign.',
      },
    },
  },
};
