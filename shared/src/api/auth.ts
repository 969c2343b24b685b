import { z } from 'zod';
import { ROLES, type Role } from '../domain';
import { MIN_PASSWORD_LENGTH } from '../auth/password';

/** The signed-in person, as the API and the web app see them. */
export interface SessionUser {
  id: number;
  email: string;
  name: string;
  role: Role;
  /** null: company-wide (a super admin without a home department). */
  departmentId: number | null;
  departmentName: string | null;
  /** "/1/2/": the user's department and everything below it is their scope. */
  departmentPath: string | null;
}

/** `GET /api/auth/me`, `POST /api/auth/login`: who is signed in and the token every write must echo. */
export interface Me {
  user: SessionUser;
  csrfToken: string;
}

/** Header that carries the session's CSRF token on every cookie-authenticated write. */
export const CSRF_HEADER = 'X-CSRF-Token';

export const loginBody = z.strictObject({
  email: z.string().trim().toLowerCase().email('must be an email address').max(200),
  password: z.string().min(1, 'is required').max(200),
});

const password = z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(200);

export const createUserBody = z.strictObject({
  email: z.string().trim().toLowerCase().email('must be an email address').max(200),
  name: z.string().trim().min(1, 'is required').max(60),
  role: z.enum(ROLES),
  departmentId: z.number().int().positive().nullable(),
  password,
});

export const updateUserBody = z
  .strictObject({
    name: z.string().trim().min(1, 'is required').max(60),
    role: z.enum(ROLES),
    departmentId: z.number().int().positive().nullable(),
    disabled: z.boolean(),
    password,
  })
  .partial();

export const changePasswordBody = z.strictObject({ currentPassword: z.string().min(1).max(200), newPassword: password });

/** A user as the users screen lists them. */
export interface UserSummary {
  id: number;
  email: string;
  name: string;
  role: Role;
  departmentId: number | null;
  departmentName: string | null;
  disabled: boolean;
  createdAt: number;
  lastLoginAt: number | null;
  activeSessions: number;
  /** The name's pinyin keys (letters and digits), for pickers filtering in the browser (worker/src/search/keys.ts). */
  searchKeys: string[];
}

/** One sign-in session (the token itself is never shown: `id` is its hash's prefix). */
export interface SessionSummary {
  id: string;
  createdAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}
