/**
 * WeCom (企业微信) server API errcodes that Segflow meets, each with words an admin can act
 * on, in zh-CN and English. The meaning of every code is from WeCom's 「全局错误码」 page
 * (developer.work.weixin.qq.com/document/path/90313, its 错误说明 and 排查方法 columns); the
 * advice is ours, written for a Segflow admin connecting a corp. `errmsg` is the short English
 * text WeCom puts before ", hint: […]" in its answers, where known; the local simulator
 * (tools/wecom-sim) answers with it.
 */
export interface WecomErrcodeInfo {
  /** WeCom's own short English errmsg (the part before ", hint:") */
  errmsg: string;
  zh: string;
  en: string;
  /** retrying the same call later can succeed (system busy, frequency limits, expired token) */
  retryable: boolean;
}

/** The errcodes the worker's WeCom client and the simulator use, by code. */
export const WECOM_ERRCODES = {
  [-1]: {
    errmsg: 'system busy',
    zh: '企业微信系统繁忙，请稍后重试（建议重试不超过 3 次）。',
    en: 'WeCom is busy; try again shortly (no more than 3 retries).',
    retryable: true,
  },
  0: { errmsg: 'ok', zh: '成功。', en: 'OK.', retryable: false },
  40001: {
    errmsg: 'invalid credential',
    zh: '不合法的 secret：请到企业微信管理后台「客户联系 → API」或「应用管理 → 自建应用」重新复制 Secret。',
    en: 'Invalid secret: copy the Secret again from WeCom admin (Customer Contact → API, or App Management → your self-built app).',
    retryable: false,
  },
  40003: {
    errmsg: 'invalid userid',
    zh: '无效的成员 UserID：该成员不在通讯录中（可能已离职或被删除）。',
    en: 'Invalid member UserID: the member is not in the directory (left or deleted?).',
    retryable: false,
  },
  40008: {
    errmsg: 'invalid message type',
    zh: '不合法的消息类型（Segflow 的缺陷，请联系支持）。',
    en: 'Invalid message type (a Segflow bug; contact support).',
    retryable: false,
  },
  40050: {
    errmsg: 'chatid not found',
    zh: '客户群不存在：群可能已解散，将在下次同步时移除。',
    en: 'The group chat does not exist: it may have been dismissed; the next sync removes it.',
    retryable: false,
  },
  41009: {
    errmsg: 'userid missing',
    zh: '缺少成员 userid 参数（Segflow 的缺陷，请联系支持）。',
    en: 'The member userid is missing (a Segflow bug; contact support).',
    retryable: false,
  },
  41011: {
    errmsg: 'agentid missing',
    zh: '缺少 AgentID：请填写自建应用的 AgentId。',
    en: 'AgentID missing: enter the self-built app’s AgentId.',
    retryable: false,
  },
  41035: {
    errmsg: 'external userid missing',
    zh: '缺少外部联系人 userid 参数（Segflow 的缺陷，请联系支持）。',
    en: 'The external_userid is missing (a Segflow bug; contact support).',
    retryable: false,
  },
  45035: {
    errmsg: 'api concurrent conflict',
    zh: '同一成员与客户的标签正被并发修改：Segflow 会稍后重试。',
    en: 'The same member’s tags on this customer are being changed concurrently: Segflow retries shortly.',
    retryable: true,
  },
  86201: {
    errmsg: 'chatid missing',
    zh: '缺少群 ID 参数（Segflow 的缺陷，请联系支持）。',
    en: 'The chat_id is missing (a Segflow bug; contact support).',
    retryable: false,
  },
  40013: {
    errmsg: 'invalid corpid',
    zh: '不合法的 CorpID：请在企业微信管理后台「我的企业 → 企业信息」核对企业 ID。',
    en: 'Invalid CorpID: check the Corp ID under My Company → Company Info in WeCom admin.',
    retryable: false,
  },
  40014: {
    errmsg: 'invalid access_token',
    zh: '不合法的 access_token：凭证错误或已失效，Segflow 会重新获取；若反复出现，请检查 Secret 是否被重置。',
    en: 'Invalid access_token: Segflow fetches a new one; if it keeps happening, check whether the Secret was reset.',
    retryable: true,
  },
  40056: {
    errmsg: 'invalid agentid',
    zh: '不合法的 AgentID：请在「应用管理」中核对自建应用的 AgentId。',
    en: 'Invalid AgentID: check the self-built app’s AgentId under App Management.',
    retryable: false,
  },
  40058: {
    errmsg: 'invalid Request Parameter',
    zh: '参数不合法：请求内容不符合接口要求（Segflow 的缺陷，请联系支持）。',
    en: 'Invalid parameter: the request does not fit the API (a Segflow bug; contact support).',
    retryable: false,
  },
  40068: {
    errmsg: 'invalid tagid',
    zh: '不合法的标签 ID：标签不存在或已在企业微信中删除，请重新拉取标签库。',
    en: 'Invalid tag id: the tag does not exist or was deleted in WeCom; pull the tag library again.',
    retryable: false,
  },
  40071: {
    errmsg: 'invalid tag name',
    zh: '不合法的标签名：同一标签组内已有同名标签，或名称为空。',
    en: 'Invalid tag name: a tag of that name already exists in the group, or the name is empty.',
    retryable: false,
  },
  40096: {
    errmsg: 'invalid external userid',
    zh: '不合法的外部联系人 ID：该客户不存在或不属于本企业。',
    en: 'Invalid external contact id: the customer does not exist or belongs to another corp.',
    retryable: false,
  },
  41001: {
    errmsg: 'access_token missing',
    zh: '缺少 access_token 参数（Segflow 的缺陷，请联系支持）。',
    en: 'The access_token is missing (a Segflow bug; contact support).',
    retryable: false,
  },
  41002: { errmsg: 'corpid missing', zh: '缺少 corpid 参数：请填写企业 ID。', en: 'Corp ID missing: enter the Corp ID.', retryable: false },
  41004: {
    errmsg: 'corpsecret missing',
    zh: '缺少 secret 参数：请填写 Secret。',
    en: 'Secret missing: enter the Secret.',
    retryable: false,
  },
  42001: {
    errmsg: 'access_token expired',
    zh: 'access_token 已过期：Segflow 会自动重新获取。',
    en: 'The access_token expired: Segflow fetches a new one automatically.',
    retryable: true,
  },
  44004: { errmsg: 'empty content', zh: '文本消息内容为空。', en: 'The text message is empty.', retryable: false },
  45009: {
    errmsg: 'api freq out of limit',
    zh: '接口调用超过频率限制：企业微信会在限制时长（如 1 分钟）后自动解除，Segflow 会放慢并稍后重试。',
    en: 'API call frequency limit reached: WeCom lifts it after the limit’s period (e.g. one minute); Segflow slows down and retries later.',
    retryable: true,
  },
  45033: {
    errmsg: 'api concurrent out of limit',
    zh: '接口并发调用超过限制：Segflow 会降低并发并重试。',
    en: 'Too many concurrent calls to this API: Segflow lowers its concurrency and retries.',
    retryable: true,
  },
  48002: {
    errmsg: 'api forbidden',
    zh: 'API 接口无权限调用：客户联系接口只能用「客户联系」的 Secret，或已加入「客户联系 → 可调用应用」的自建应用的 Secret。',
    en: 'API not permitted: customer-contact APIs need the Customer Contact Secret, or a self-built app added to Customer Contact → Apps allowed to call the API.',
    retryable: false,
  },
  50100: {
    errmsg: 'invalid cursor',
    zh: '分页游标无效：将从头重新拉取。',
    en: 'Invalid paging cursor: the pull restarts from the beginning.',
    retryable: false,
  },
  60020: {
    errmsg: 'not allow to access from your ip',
    zh: '访问 IP 不在企业可信 IP 中：在企业微信管理后台该应用的「企业可信IP」中加入调用方的出口 IP；Cloudflare Workers 没有固定出口 IP，请经由固定 IP 的代理调用（WECOM_API_BASE）。',
    en: "The calling address is not in the app's trusted IPs (企业可信IP): add the caller's egress IP in WeCom admin; Cloudflare Workers have no fixed egress IP, so call through a proxy with one (WECOM_API_BASE).",
    retryable: false,
  },
  60111: {
    errmsg: 'userid not found',
    zh: 'UserID 不存在：该成员不在通讯录中。',
    en: 'UserID not found: the member is not in the directory.',
    retryable: false,
  },
  81013: {
    errmsg: 'user & party & tag all invalid',
    zh: '消息接收人全部无效：成员可能已离职，或不在应用的可见范围内。',
    en: 'Every recipient is invalid: members may have left, or are outside the app’s visible range.',
    retryable: false,
  },
  84061: {
    errmsg: 'not external contact',
    zh: '不存在外部联系人的关系：该成员与该客户已不是好友（成员删除了客户），无法对这段关系打标签。',
    en: 'No external-contact relation: this member and customer are no longer connected (the member removed the customer), so this relation cannot be tagged.',
    retryable: false,
  },
  86001: { errmsg: 'invalid chatid', zh: '群 ID 不合法。', en: 'Invalid group chat id.', retryable: false },
  301002: {
    errmsg: 'not allow operate another agent with this accesstoken',
    zh: '无权限操作指定的应用：所用凭证不属于该应用，或该标签/数据由其他应用或管理员创建（应用只能编辑、删除自己创建的企业标签）。',
    en: 'No permission for this app: the credential belongs to another app, or the tag/data was created by another app or an admin (an app may only edit or delete corp tags it created).',
    retryable: false,
  },
  40126: {
    errmsg: 'corp tag count reach limit',
    zh: '企业客户标签数量已达上限：请在企业微信中删除不用的标签，或减少同步到企业微信的标签组。',
    en: 'The corp reached its customer tag limit: delete unused tags in WeCom, or sync fewer tag groups to WeCom.',
    retryable: false,
  },
} as const satisfies Record<number, WecomErrcodeInfo>;

export type WecomErrcode = keyof typeof WECOM_ERRCODES;

/** The explanation of an errcode, or a generic one naming the code (WeCom has hundreds). */
export function describeWecomErrcode(errcode: number): WecomErrcodeInfo {
  const known = (WECOM_ERRCODES as Record<number, WecomErrcodeInfo>)[errcode];
  if (known) return known;
  return {
    errmsg: `errcode ${errcode}`,
    zh: `企业微信返回错误码 ${errcode}，可在 https://open.work.weixin.qq.com/devtool/query?e=${errcode} 查询原因。`,
    en: `WeCom answered errcode ${errcode}; look it up at https://open.work.weixin.qq.com/devtool/query?e=${errcode}.`,
    retryable: false,
  };
}
