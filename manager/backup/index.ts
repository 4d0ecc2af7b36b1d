// Backup and restore of the cluster state, and a new cluster forced from a survivor.
export {
  forceNewCluster,
  type RestoreBackupOptions,
  type RestoredBackup,
  restoreBackup,
  takeBackup,
} from './backup.js';
export { BACKUP_FORMAT, decodeBackup } from './format.js';
