import type { ScoreCalibrationBody, ScoreCalibrationResponse } from '@shared/api/score-calibration';
import { apiPost } from './client';

/** Each score factor's spread over the contacts the viewer may see, with the cap it suggests. */
export const calibrateScore = (body: ScoreCalibrationBody) => apiPost<ScoreCalibrationResponse>('/score-calibration', body);
