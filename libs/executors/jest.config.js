module.exports = { ...require('../../jest.preset.js'), displayName: 'executors', rootDir: __dirname };
