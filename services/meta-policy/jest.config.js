module.exports = { ...require('../../jest.preset.js'), displayName: 'meta-policy', rootDir: __dirname };
