import { Hono } from 'hono';
import { asc, count, eq } from 'drizzle-orm';
import type { AppEnv } from '../app-env';
import { db } from '../db/client';
import { contacts, departments as departmentsT } from '../db/schema';
import type { Department } from '../../../shared/src/api/departments';

/** Departments (a tree by parentId) with the number of contacts directly in each. */
export const departments = new Hono<AppEnv>().get('/', async (c) => {
  const d = db(c.env);
  const rows = await d
    .select({ id: departmentsT.id, name: departmentsT.name, parentId: departmentsT.parentId, contacts: count(contacts.id) })
    .from(departmentsT)
    .leftJoin(contacts, eq(contacts.departmentId, departmentsT.id))
    .groupBy(departmentsT.id)
    .orderBy(asc(departmentsT.path));
  return c.json(rows satisfies Department[]);
});
