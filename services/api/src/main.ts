import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { startApi } from './app/start-api';

export { startApi, type StartApiOptions } from './app/start-api';

if (require.main === module) {
  startApi()
    .then(({ url }) => new Logger('api').log(`dashboard at ${url}/`))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
