import { reactive } from 'vue';
import { listDepartments } from '../../app/api/departments';
import { listOwners } from '../../app/api/contacts';

/**
 * Names of the ids a condition stores (所属部门, 负责人), so the canvas reads "所属部门 等于 华东大区",
 * not "= 2". Reactive: a node's text updates when a name arrives. Filled by the pickers as they
 * load and, for ids no picker has shown yet, asked for once per id (the owner lookup is scoped:
 * a person outside the viewer's department keeps showing the id).
 */
export const conditionNames = reactive({
  departments: new Map<number, string>(),
  users: new Map<number, string>(),
});

let departmentsAsked = false;
const usersAsked = new Set<number>();
const inBrowser = typeof window !== 'undefined';

/** Remembers names a picker has loaded. */
export function rememberNames(kind: 'departments' | 'users', items: readonly { id: number; name: string }[]) {
  for (const i of items) conditionNames[kind].set(i.id, i.name);
}

/** The department's name, or undefined while it is unknown (asks the server once). */
export function departmentName(id: number): string | undefined {
  const name = conditionNames.departments.get(id);
  if (name === undefined && inBrowser && !departmentsAsked) {
    departmentsAsked = true;
    listDepartments()
      .then((list) => rememberNames('departments', list))
      .catch(() => (departmentsAsked = false));
  }
  return name;
}

/** The user's name, or undefined while it is unknown (asks the server once per id). */
export function userName(id: number): string | undefined {
  const name = conditionNames.users.get(id);
  if (name === undefined && inBrowser && !usersAsked.has(id)) {
    usersAsked.add(id);
    listOwners({ id })
      .then(({ items }) => rememberNames('users', items))
      .catch(() => usersAsked.delete(id));
  }
  return name;
}
