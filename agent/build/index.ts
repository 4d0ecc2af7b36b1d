// agent/build: Dockerfile builds with buildah into the node's image store.
export { Builder, type BuilderOptions, type BuildOptions } from './builder.js';
export { type DockerfileImages, dockerfileImages } from './dockerfile.js';
