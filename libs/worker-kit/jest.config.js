module.exports = { ...require('../../jest.preset.js'), displayName: 'worker-kit', rootDir: __dirname };
