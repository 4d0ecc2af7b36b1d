// The dashboard's pure model, shared by its server and its browser bundle.
export {
  modeOf,
  parseReplicas,
  type ServiceModeName,
  type ServiceRow,
  serviceRow,
  serviceRows,
  type UpdateRow,
} from './rows.js';
