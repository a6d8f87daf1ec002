module.exports = { ...require('../../jest.preset.js'), displayName: 'artefacts', rootDir: __dirname };
