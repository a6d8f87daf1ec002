module.exports = { ...require('../../jest.preset.js'), displayName: 'substrate-kit', rootDir: __dirname };
