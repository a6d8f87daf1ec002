module.exports = { ...require('../../jest.preset.js'), displayName: 'substrate', rootDir: __dirname };
