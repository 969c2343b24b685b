/** Sign-in, the signed-in user in the shell, roles. */
export default {
  auth: {
    title: '登录',
    lead: '使用企业邮箱和密码登录 Segflow',
    email: '邮箱',
    password: '密码',
    submit: '登录',
    missing: '请输入邮箱和密码',
    wrong: '邮箱或密码错误，或账号已停用',
    rateLimited: '登录失败次数过多，请 15 分钟后再试',
    failed: '登录失败：{message}',
    help: '忘记密码请联系超级管理员',
    logout: '退出登录',
    signedInAs: '当前用户',
  },
  role: {
    super_admin: '超级管理员',
    dept_admin: '部门管理员',
    staff: '员工',
  },
};
