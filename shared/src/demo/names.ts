/**
 * Word lists for realistic Chinese demo data. Weights follow rough real-world frequencies
 * (王/李/张 make up ~20% of people), so charts and group-bys in the demo look plausible.
 */
import { weighted } from './random';

/** Surnames with relative frequency (per mille, approximately the 2020 census ranking). */
export const SURNAMES = weighted<string>([
  ['王', 72], ['李', 71], ['张', 68], ['刘', 53], ['陈', 45], ['杨', 31], ['黄', 22], ['赵', 20],
  ['吴', 20], ['周', 19], ['徐', 13], ['孙', 12], ['马', 12], ['朱', 11], ['胡', 10], ['郭', 10],
  ['何', 9], ['林', 9], ['高', 9], ['罗', 8], ['郑', 8], ['梁', 7], ['谢', 6], ['宋', 6],
  ['唐', 6], ['许', 5], ['韩', 5], ['邓', 5], ['冯', 5], ['曹', 5], ['彭', 5], ['曾', 4],
  ['肖', 4], ['田', 4], ['董', 4], ['潘', 4], ['袁', 4], ['蔡', 4], ['蒋', 4], ['余', 4],
  ['于', 4], ['杜', 3], ['叶', 3], ['程', 3], ['魏', 3], ['苏', 3], ['吕', 3], ['丁', 3],
  ['任', 3], ['卢', 3], ['姚', 3], ['沈', 3], ['钟', 3], ['姜', 3], ['崔', 3], ['谭', 3],
  ['陆', 2], ['范', 2], ['汪', 2], ['廖', 2], ['石', 2], ['金', 2], ['韦', 2], ['贾', 2],
  ['夏', 2], ['付', 2], ['方', 2], ['邹', 2], ['熊', 2], ['白', 2], ['孟', 2], ['秦', 2],
  ['邱', 2], ['侯', 2], ['江', 2], ['尹', 2], ['薛', 2], ['闫', 2], ['段', 2], ['雷', 2],
  ['龙', 1], ['黎', 1], ['史', 1], ['陶', 1], ['贺', 1], ['毛', 1], ['郝', 1], ['顾', 1],
  ['龚', 1], ['邵', 1], ['万', 1], ['覃', 1], ['武', 1], ['钱', 1], ['戴', 1], ['严', 1],
  ['欧阳', 0.3], ['上官', 0.1], ['司马', 0.1], ['诸葛', 0.05],
]);

/** Characters common in given names, by gender (the unisex list is shared). */
export const GIVEN_MALE = '伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林文博志峰建国斌晨阳睿哲轩然诚毅'.split('');
export const GIVEN_FEMALE = '芳娜敏静丽艳娟霞秀燕玲桂丹萍红梅琳雪婷倩颖洁莉琪瑶欣怡佳悦彤璐晗萱雯露蕾思梦妍'.split('');
export const GIVEN_UNISEX = '子一若文晓小嘉可雨天安家乐心晨逸书诗宁远'.split('');

/**
 * WeChat nicknames people actually use. Some contain ASCII quotes on purpose: the SQL
 * writer must escape them, and a demo that never exercises that path would hide a bug.
 */
export const NICKNAMES = [
  '小鱼儿', '阳光灿烂', '快乐每一天', '静待花开', '追风少年', '一路向北', '岁月静好', '平安是福',
  '简单生活', 'Amy', 'Lily', 'Jason', 'Kevin王', 'Coco', '奶茶不加糖', '猫系女孩', '大白',
  '知足常乐', '花开半夏', '淡定', 'A 宝妈 私人订制', '老张', '茶叶蛋', '微笑向暖', '心若向阳',
  "Lily's Shop", "Tom's 小店", "O'Neil", '海阔天空', '木子', '晴天', '🌸花花', '若水',
];

/** Honorifics used in remarks: "王总-华东采购". */
export const REMARK_TITLES = ['总', '姐', '哥', '老师', '经理', '老板', '主任', '阿姨'];
export const REMARK_ROLES = ['采购', '老板', '代理', '宝妈', '店长', '渠道', '老客户', '意向', 'VIP', '供应商', '团长'];

export const OCCUPATIONS = weighted<string>([
  ['白领', 18], ['销售', 10], ['教师', 7], ['医生', 3], ['护士', 3], ['程序员', 7], ['设计师', 4],
  ['个体经营', 10], ['企业主', 5], ['学生', 8], ['全职妈妈', 7], ['公务员', 3], ['自由职业', 6],
  ['财务', 4], ['工程师', 5], ['退休', 3], ['采购', 3],
]);

const COMPANY_PREFIX = ['华', '恒', '鼎', '盛', '创', '博', '嘉', '新', '联', '远', '达', '瑞', '鑫', '泰', '丰', '中', '海', '云', '星', '智'];
const COMPANY_SUFFIX = ['科技有限公司', '贸易有限公司', '文化传媒有限公司', '电子商务有限公司', '实业有限公司', '信息技术有限公司', '餐饮管理有限公司', '美容连锁', '母婴用品店', '咨询有限公司'];

/** A plausible company name: "上海鼎盛科技有限公司". */
export function companyName(city: string, a: string, b: string, suffix: string): string {
  return `${city}${a}${b}${suffix}`;
}
export { COMPANY_PREFIX, COMPANY_SUFFIX };

/** Provinces with their cities and rough weights (contact counts follow the coastal economy). */
export const PROVINCES: readonly { province: string; cities: readonly string[]; weight: number }[] = [
  { province: '上海', cities: ['上海'], weight: 10 },
  { province: '浙江', cities: ['杭州', '宁波', '温州', '绍兴', '金华'], weight: 9 },
  { province: '江苏', cities: ['南京', '苏州', '无锡', '常州', '南通'], weight: 10 },
  { province: '安徽', cities: ['合肥', '芜湖'], weight: 3 },
  { province: '广东', cities: ['广州', '深圳', '东莞', '佛山', '珠海'], weight: 12 },
  { province: '福建', cities: ['福州', '厦门', '泉州'], weight: 4 },
  { province: '北京', cities: ['北京'], weight: 7 },
  { province: '天津', cities: ['天津'], weight: 3 },
  { province: '河北', cities: ['石家庄', '唐山', '保定'], weight: 3 },
  { province: '山东', cities: ['济南', '青岛', '烟台'], weight: 6 },
  { province: '四川', cities: ['成都', '绵阳'], weight: 5 },
  { province: '重庆', cities: ['重庆'], weight: 3 },
  { province: '湖北', cities: ['武汉', '宜昌'], weight: 4 },
  { province: '湖南', cities: ['长沙', '株洲'], weight: 3 },
  { province: '河南', cities: ['郑州', '洛阳'], weight: 4 },
  { province: '陕西', cities: ['西安'], weight: 2 },
  { province: '辽宁', cities: ['沈阳', '大连'], weight: 2 },
  { province: '云南', cities: ['昆明'], weight: 1 },
];

/** Where contacts come from: `contacts.source_channel`, `qr_scan.channel` and the 来源渠道 tags. */
export const SOURCE_CHANNELS = weighted<string>([
  ['扫码-门店A', 14], ['扫码-门店B', 9], ['朋友推荐', 16], ['公众号文章', 13], ['直播间', 12],
  ['企微活动', 11], ['线下展会', 6], ['电商包裹卡', 9], ['社群裂变', 10],
]);

/** Message texts; the keyword ones (价格, 优惠, 退款, 投诉, 合作, 代理, 发货) drive keyword rules. */
export const MESSAGES_PLAIN = [
  '好的，谢谢', '收到', '在吗？', '👍', '明白了', '早上好', '辛苦了', '好的我看看', '哈哈哈',
  '这个颜色还有吗', '什么时候上新', '已经下单了', '东西收到了，很满意', '可以开发票吗',
  '群里有人拼单吗', '今天直播几点开始？', '链接发我一下', '这款适合敏感肌吗', '有没有大一号的',
  '谢谢老师分享', '我朋友也想买', '包装很用心', '下次再来', '你们门店在哪里', '周末有活动吗',
];
export const MESSAGES_KEYWORD = [
  '这款价格多少？', '价格能再便宜点吗', '有什么优惠活动吗', '老客户有优惠吗', '优惠券怎么用',
  '我想申请退款', '退款什么时候到账', '我要投诉，客服一直不回', '投诉：收到的货是坏的',
  '想和你们谈谈合作', '有没有商务合作的机会', '怎么做你们的代理', '代理政策发我看看',
  '什么时候发货？', '三天了还没发货', '已经发货了吗',
];

/** Article titles for article_open events (`events.text`). */
export const ARTICLE_TITLES = [
  '换季干皮自救指南：三步告别起皮', '618 爆款清单提前看', '新品首发｜抗老精华限时体验',
  '手机怎么选？2024 旗舰机横评', '宝妈必看：进口奶粉怎么挑', '会员日福利来啦',
  '一文看懂成分党的护肤逻辑', '直播预告：今晚 8 点不见不散', '秋冬穿搭 10 个小技巧',
  '门店周年庆，到店有礼', '新客专享：首单立减 20 元', '茶饮新品上线，第二杯半价',
];

/** Products for purchase `properties.item`. */
export const PRODUCTS = ['抗老精华', '保湿面霜', '口红礼盒', '蓝牙耳机', '手机壳', '进口奶粉', '儿童卫衣', '坚果礼包', '花果茶', '充电宝', '面膜套装', '运动鞋'];

/** Names for department staff and admins. */
export const STAFF_NAMES = [
  '陈静', '王磊', '李娜', '张伟', '刘洋', '杨帆', '赵敏', '黄晓明', '周婷', '吴昊', '徐丽', '孙强',
  '马超', '朱琳', '胡斌', '郭佳', '何雪', '林涛', '高颖', '罗杰', '郑爽', '梁晨', '谢晓燕', '宋宇',
  '唐诗', '许可', '韩梅', '冯凯', '邓丽', '曹阳', '彭博', '曾敏', '肖潇', '田甜', '董洁', '袁野',
];
