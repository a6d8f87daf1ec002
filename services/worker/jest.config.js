// The suites spawn built processes (the worker, dispatch, evaluation, substrate) that load libs' dist/: run them one
// at a time so that one suite's build step never rewrites files another suite's processes are loading.
module.exports = { ...require('../../jest.preset.js'), displayName: 'worker', rootDir: __dirname, maxWorkers: 1 };
