// Undo and redo over whole states (graphs are small: a hundred nodes at
// most): each change pushes the state it produced; undo steps back, redo
// forward, and a new change after an undo drops the undone future.

/** A history starting at `initial`, keeping at most `limit` past states. */
export function createHistory(initial, limit = 100) {
  let past = [];
  let present = initial;
  let future = [];
  return {
    /** The current state. */
    get present() {
      return present;
    },
    get canUndo() {
      return past.length > 0;
    },
    get canRedo() {
      return future.length > 0;
    },
    /** Record a new state (ignored when `same(present, state)`). */
    push(state, same = (a, b) => a === b) {
      if (same(present, state)) return false;
      past.push(present);
      if (past.length > limit) past = past.slice(past.length - limit);
      present = state;
      future = [];
      return true;
    },
    /** Step back; returns the state now current, or null when there is none. */
    undo() {
      if (!past.length) return null;
      future.push(present);
      present = past.pop();
      return present;
    },
    /** Step forward; returns the state now current, or null. */
    redo() {
      if (!future.length) return null;
      past.push(present);
      present = future.pop();
      return present;
    },
    /** Start again from `state` (a reload), forgetting the past. */
    reset(state) {
      past = [];
      future = [];
      present = state;
    },
  };
}
