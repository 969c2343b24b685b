/** Shell, navigation and words every screen uses. */
import { ENUM_VALUE_LABELS, wordsIn } from '@shared/rules/labels';

export default {
  app: {
    name: 'Segflow',
    tagline: '标签与分群',
    language: '语言',
  },
  nav: {
    home: '概览',
    rules: '标签规则',
    segments: '分群',
    contacts: '联系人',
    tags: '标签管理',
    audit: '审计日志',
    people: '用户与部门',
    sources: '数据源',
    publishing: '发布审批',
    rollback: '回滚',
  },
  common: {
    loading: '加载中…',
    retry: '重试',
    reset: '重置',
    all: '全部',
    none: '无',
    never: '从未',
    loadFailed: '加载失败：{message}',
    networkError: '无法连接服务器，请检查网络后重试',
    comingSoon: '即将上线',
    confirm: '确定',
    failed: '操作失败：{message}',
    cancel: '取消',
  },
  contactKind: wordsIn(ENUM_VALUE_LABELS.kind, 'zh'),
  gender: wordsIn(ENUM_VALUE_LABELS.gender, 'zh'),
  placeholder: {
    rules: {
      title: '用画布编排“如果…就打标签”的规则',
      body: '拖入触发器、条件与动作，发布前精确预览将有多少联系人被打标或去标，并支持灰度发布与回滚。',
    },
    segments: {
      title: '保存常用分群',
      body: '用同一套条件编辑器定义分群，查看分群规模随时间的变化，规模骤降时提醒。',
    },
    audit: {
      title: '每一次变更都有据可查',
      body: '谁在何时从何处修改了什么，变更前后一目了然，保留 180 天。',
    },
  },
  time: {
    justNow: '刚刚',
  },
};
