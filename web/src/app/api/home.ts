import type { HomeResponse } from '@shared/api/home';
import { apiGet } from './client';

export const getHome = () => apiGet<HomeResponse>('/home');
