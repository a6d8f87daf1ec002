import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { LeaderboardModule } from './leaderboard.module';

void bootstrapService(LeaderboardModule.forRoot(), { service: 'leaderboard' });
