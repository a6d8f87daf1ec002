module.exports = { ...require('../../jest.preset.js'), displayName: 'evidence', rootDir: __dirname };
