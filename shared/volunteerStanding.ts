/** One row of GET /api/volunteers, best first: what a volunteer has given the run. */
export interface VolunteerStanding {
  /** A public name (a hash of the identity token, never the token). */
  readonly volunteer: string;
  /** Their display name, as their last hello gave it; null without one. */
  readonly name: string | null;
  /** Examples behind their accepted pushes (gradients or local rounds' changes). */
  readonly examples: number;
  readonly pushes: number;
  /** Pushes the hub recomputed (spot checks) that matched. */
  readonly verified: number;
  readonly lastSeen: number;
  /** Of all volunteers' examples, 0..1. */
  readonly share: number;
  /** 1 for the most examples. */
  readonly rank: number;
  /** Their workers connected now (tabs, Node workers). */
  readonly online: number;
}

/** Where the hub serves the standings. */
export const VOLUNTEERS_PATH = '/api/volunteers';
