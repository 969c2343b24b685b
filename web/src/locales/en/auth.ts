import type zh from '../zh-CN/auth';

const en: typeof zh = {
  auth: {
    title: 'Sign in',
    lead: 'Sign in to Segflow with your work email and password',
    email: 'Email',
    password: 'Password',
    submit: 'Sign in',
    missing: 'Enter your email and password',
    wrong: 'Email or password is wrong, or the account is disabled',
    rateLimited: 'Too many failed sign-ins: try again in 15 minutes',
    failed: 'Sign-in failed: {message}',
    help: 'Forgot your password? Ask a super admin',
    logout: 'Sign out',
    signedInAs: 'Signed in as',
  },
  role: {
    super_admin: 'Super admin',
    dept_admin: 'Department admin',
    staff: 'Staff',
  },
};
export default en;
