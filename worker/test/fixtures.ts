import { env } from 'cloudflare:workers';
import { exports } from 'cloudflare:workers';

/** Calls the real worker over HTTP (inside workerd) and returns status and parsed JSON. */
export async function api<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await exports.default.fetch(new Request(`http://segflow.test${path}`, init));
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const DAY = 86_400_000;
export const NOW = Date.UTC(2026, 10, 24, 4, 0, 0);

/**
 * A small, hand-written world whose answers are known by construction:
 * departments 总部 › 华东大区 › 上海一组, and 华南大区; two tag groups; five contacts.
 */
export async function seedSmallWorld() {
  await env.DB.batch(
    [
      `insert into departments (id, name, parent_id, path) values
        (1, '总部', null, '/1/'), (2, '华东大区', 1, '/1/2/'), (3, '上海一组', 2, '/1/2/3/'), (4, '华南大区', 1, '/1/4/')`,
      `insert into tag_groups (id, name, color, exclusive, sort_order) values
        (1, '生命周期', '#e6a23c', 1, 1), (2, '兴趣偏好', '#409eff', 0, 2)`,
      `insert into tags (id, group_id, parent_id, level, name, status) values
        (1, 1, null, 1, '活跃客户', 'active'), (2, 1, null, 1, '沉睡客户', 'active'),
        (3, 2, null, 1, '美妆', 'active'), (4, 2, 3, 2, '护肤', 'active'), (5, 2, 4, 3, '抗老', 'active'),
        (6, 2, null, 1, '旧标签', 'retired')`,
      `insert into contacts (id, kind, external_id, name, remark, gender, region, city, department_id, bucket,
          created_at, updated_at, last_active_at, total_spend, purchase_count) values
        (1, 'wecom_customer', 'wm_a', '张伟', '张总-华东采购', 'male', '上海', '上海', 3, 11, ${NOW - 90 * DAY}, ${NOW}, ${NOW - 1 * DAY}, 128000, 3),
        (2, 'friend', 'wxid_b', '李娜', null, 'female', '浙江', '杭州', 2, 22, ${NOW - 80 * DAY}, ${NOW}, ${NOW - 5 * DAY}, 9900, 1),
        (3, 'follower', 'o_c', '王芳', '100%_满意', 'female', '广东', '深圳', 4, 33, ${NOW - 70 * DAY}, ${NOW}, null, 0, 0),
        (4, 'group_member', 'g_d', '刘洋', null, 'male', '广东', '广州', 4, 44, ${NOW - 60 * DAY}, ${NOW}, ${NOW - 200 * DAY}, 0, 0),
        (5, 'wecom_customer', 'wm_e', '陈静', '老客户', 'female', '北京', '北京', 1, 55, ${NOW - 50 * DAY}, ${NOW}, ${NOW - 2 * DAY}, 560000, 9)`,
      `insert into contact_tags (contact_id, tag_id, source, added_at) values
        (1, 1, 'manual', ${NOW}), (1, 5, 'import', ${NOW}), (1, 4, 'import', ${NOW}),
        (2, 1, 'manual', ${NOW}), (4, 2, 'rule', ${NOW}), (5, 1, 'manual', ${NOW}), (5, 3, 'manual', ${NOW})`,
    ].map((sql) => env.DB.prepare(sql)),
  );
}
