import { RaftError } from './errors.js';
import type { ConfChange, ConfState } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const v: unknown = JSON.parse(decoder.decode(data));
  if (typeof v !== 'object' || v === null)
    throw new RaftError('invalid_argument', 'conf change entry is not an object');
  const o = v as Record<string, unknown>;
  const type = o.type;
  if (type !== 'addVoter' && type !== 'addLearner' && type !== 'promote' && type !== 'remove') {
    throw new RaftError('invalid_argument', `conf change entry has unknown type ${String(type)}`);
  }
  if (typeof o.id !== 'string' || o.id === '')
    throw new RaftError('invalid_argument', 'conf change entry has no member id');
  const cc: ConfChange = { type, id: o.id };
  if (typeof o.addr === 'string') cc.addr = o.addr;
  return cc;
}

export function cloneConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners], addrs: { ...c.addrs } };
}

/** Why a change cannot apply to `conf`, or null when it can. */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | null {
  const isVoter = conf.voters.includes(cc.id);
  const isLearner = conf.learners.includes(cc.id);
  switch (cc.type) {
    case 'addVoter':
      return isVoter ? `${cc.id} is already a voter` : null;
    case 'addLearner':
      return isVoter || isLearner ? `${cc.id} is already a member` : null;
    case 'promote':
      return isLearner ? null : `${cc.id} is not a learner`;
    case 'remove':
      if (!isVoter && !isLearner) return `${cc.id} is not a member`;
      if (isVoter && conf.voters.length === 1) return `${cc.id} is the last voter`;
      return null;
  }
}

export function applyConfChangeTo(conf: ConfState, cc: ConfChange): void {
  const drop = (list: string[]) => {
    const i = list.indexOf(cc.id);
    if (i >= 0) list.splice(i, 1);
  };
  switch (cc.type) {
    case 'addVoter':
    case 'promote':
      drop(conf.learners);
      if (!conf.voters.includes(cc.id)) conf.voters.push(cc.id);
      break;
    case 'addLearner':
      if (!conf.learners.includes(cc.id) && !conf.voters.includes(cc.id)) conf.learners.push(cc.id);
      break;
    case 'remove':
      drop(conf.voters);
      drop(conf.learners);
      delete conf.addrs[cc.id];
      return;
  }
  if (cc.addr) conf.addrs[cc.id] = cc.addr;
}
