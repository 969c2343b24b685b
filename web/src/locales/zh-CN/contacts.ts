/** The Contacts screen. */
export default {
  contacts: {
    title: '联系人',
    subtitle: '共 {total} 位联系人',
    subtitleFiltered: '筛选出 {total} 位联系人',
    searchPlaceholder: '搜索姓名、拼音首字母、备注或 ID',
    ownerPlaceholder: '按负责人筛选',
    kind: '来源类型',
    department: '所属部门',
    tag: '标签',
    tagPlaceholder: '按标签筛选',
    sort: '排序',
    sorts: {
      last_active: '最近活跃',
      spend: '累计消费',
      name: '姓名',
      created: '最新添加',
    },
    columns: {
      name: '联系人',
      kind: '类型',
      department: '部门',
      owner: '负责人',
      region: '地区',
      channel: '来源渠道',
      tags: '标签',
      spend: '累计消费',
      lastActive: '最近活跃',
    },
    purchases: '购买 {n} 次',
    moreTags: '+{n}',
    empty: '没有符合条件的联系人',
    emptyHint: '试试放宽筛选条件，或清空搜索',
    phoneSearchLimitedTitle: '按手机号搜索的次数已达上限',
    phoneSearchLimited:
      '你看到的手机号是脱敏的；为防止逐个尝试号码，每人每小时最多搜索 {perHour} 个、每天最多 {perDay} 个不同号码，前 3 位和后 4 位相同的号码每天最多 {perMaskPerDay} 个。重复搜索同一号码不计次数。请稍后再试，或按姓名、备注搜索。',
  },
};
