import { z } from 'zod';

export interface Department {
  id: number;
  name: string;
  parentId: number | null;
  contacts: number;
}

const name = z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters');

/** `POST /api/departments` (super admins) → 201 `Department`. 409 when a sibling has the name. */
export const createDepartmentBody = z.strictObject({
  name,
  /** null: a top-level department. */
  parentId: z.number().int().positive().nullable(),
});

/**
 * `PATCH /api/departments/:id` (super admins): rename and / or move under another parent
 * (null: to the top). Moving under itself or its own subtree is refused (409).
 */
export const updateDepartmentBody = z
  .strictObject({ name, parentId: z.number().int().positive().nullable() })
  .partial()
  .refine((b) => b.name !== undefined || b.parentId !== undefined, { message: 'give name and / or parentId', path: ['body'] });
