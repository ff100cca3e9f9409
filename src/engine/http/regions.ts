/**
 * @module Neon's regions. The engine runs everything locally; the region is recorded so that
 * code written against the engine passes the same region checks on Neon.
 */
export const REGIONS = [
  { region_id: 'aws-us-east-1', name: 'AWS US East (N. Virginia)', default: false, geo_lat: '38.9', geo_long: '-77.0' },
  { region_id: 'aws-us-east-2', name: 'AWS US East (Ohio)', default: true, geo_lat: '39.96', geo_long: '-83.0' },
  { region_id: 'aws-us-west-2', name: 'AWS US West (Oregon)', default: false, geo_lat: '45.5', geo_long: '-122.7' },
  { region_id: 'aws-eu-central-1', name: 'AWS Europe (Frankfurt)', default: false, geo_lat: '50.1', geo_long: '8.7' },
  { region_id: 'aws-eu-west-2', name: 'AWS Europe (London)', default: false, geo_lat: '51.5', geo_long: '-0.1' },
  { region_id: 'aws-ap-southeast-1', name: 'AWS Asia Pacific (Singapore)', default: false, geo_lat: '1.3', geo_long: '103.8' },
  { region_id: 'aws-ap-southeast-2', name: 'AWS Asia Pacific (Sydney)', default: false, geo_lat: '-33.9', geo_long: '151.2' },
  { region_id: 'aws-sa-east-1', name: 'AWS South America (São Paulo)', default: false, geo_lat: '-23.5', geo_long: '-46.6' },
  { region_id: 'azure-eastus2', name: 'Azure East US 2 (Virginia)', default: false, geo_lat: '36.7', geo_long: '-78.4' },
  { region_id: 'azure-westus3', name: 'Azure West US 3 (Arizona)', default: false, geo_lat: '33.4', geo_long: '-112.1' },
  { region_id: 'azure-gwc', name: 'Azure Germany West Central (Frankfurt)', default: false, geo_lat: '50.1', geo_long: '8.7' },
];

export const DEFAULT_REGION = 'aws-us-east-2';
