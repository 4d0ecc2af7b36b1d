export * from '../../support/seed-image.js';
