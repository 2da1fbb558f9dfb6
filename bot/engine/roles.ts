// Repository roles, in GitHub's order, and which one reaches which: a ChatOps command and a gated
// workflow job both need the requester's role to reach the environment's `permission`.

export type Role = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

const RANK: Record<Role, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };

export function reaches(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/**
 * The role from GitHub's answer: `role_name` when it is a built-in role; for custom roles, the legacy
 * `permission` (admin, write, read, none) they map to, which never overstates what the user may do.
 */
export function roleFrom(roleName: string | null | undefined, legacyPermission: string | null | undefined): Role {
  if (roleName && isRole(roleName)) return roleName;
  if (legacyPermission && isRole(legacyPermission)) return legacyPermission;
  return 'none';
}

function isRole(name: string): name is Role {
  return Object.hasOwn(RANK, name);
}
