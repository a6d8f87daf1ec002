module.exports = { ...require('../../jest.preset.js'), displayName: 'kaggle', rootDir: __dirname };
