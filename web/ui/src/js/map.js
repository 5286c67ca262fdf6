// The base map shared by the pages: Leaflet with Chongqing's 38 district boundaries from the
// GeoJSON converted at build time (WGS-84). No tile layer unless the server's UI config names one,
// so the map works offline. Tiles in GCJ-02 (most Chinese tile servers except 天地图) need the
// overlay shifted into their system: toDisplay()/fromDisplay() convert between the stored WGS-84
// and what is drawn, with gcoord.

import * as L from '../lib/leaflet/leaflet-src.esm.js';
import gcoord from '../lib/gcoord/gcoord.esm-browser.prod.js';
import { t, onLanguageChange } from './i18n.js';

export const kDistrictsUrl = '/static/data/chongqing-districts.geojson';
// Chongqing's extent, used before the boundaries arrive.
const kChongqingBounds = [[28.16, 105.28], [32.21, 110.2]];

const kDistrictStyle = {
  color: '#2f6f9f',
  weight: 1,
  fillColor: '#cfe3f2',
  fillOpacity: 0.55,
};
const kDistrictHover = { weight: 2.5, color: '#0b3d66', fillColor: '#8fc1e8', fillOpacity: 0.85 };

export async function loadDistricts() {
  const res = await fetch(kDistrictsUrl);
  if (!res.ok) throw new Error(`${kDistrictsUrl}: HTTP ${res.status}`);
  return res.json();
}

// Is [lon, lat] inside the ring (ray casting)? Good enough for district lookup at this scale.
function inRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function inPolygon(point, rings) {
  return inRing(point, rings[0]) && !rings.slice(1).some((hole) => inRing(point, hole));
}

// The district feature containing WGS-84 (lat, lon), or null.
export function districtAt(geojson, lat, lon) {
  for (const f of geojson.features) {
    const g = f.geometry;
    const polygons = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
    if (polygons.some((p) => inPolygon([lon, lat], p))) return f;
  }
  return null;
}

// Creates the map in `element`. Options: uiConfig (from /api/v1/ui-config, may be null),
// onDistrictClick(feature), interactive hover labels (default true).
// Resolves to {map, districts (GeoJSON), layer, toDisplay, fromDisplay}.
export async function createBaseMap(element, { uiConfig = null, hoverLabels = true } = {}) {
  const gcj = uiConfig?.tileUrl && uiConfig?.tileCrs === 'gcj02';
  const toDisplay = (lat, lon) => {
    if (!gcj) return [lat, lon];
    const [x, y] = gcoord.transform([lon, lat], gcoord.WGS84, gcoord.GCJ02);
    return [y, x];
  };
  const fromDisplay = (lat, lon) => {
    if (!gcj) return [lat, lon];
    const [x, y] = gcoord.transform([lon, lat], gcoord.GCJ02, gcoord.WGS84);
    return [y, x];
  };

  const map = L.map(element, {
    zoomSnap: 0.25,
    minZoom: 6,
    maxZoom: 18,
    attributionControl: true,
    preferCanvas: false,  // SVG paths: one per district, easy to style and to test
  });
  map.attributionControl.setPrefix(false);
  map.fitBounds(kChongqingBounds);

  if (uiConfig?.tileUrl) {
    L.tileLayer(uiConfig.tileUrl, {
      attribution: uiConfig.tileAttribution || '',
      maxZoom: 18,
    }).addTo(map);
  }

  const districts = await loadDistricts();
  const shown = gcj ? gcoord.transform(structuredClone(districts), gcoord.WGS84, gcoord.GCJ02)
                    : districts;
  const layer = L.geoJSON(shown, {
    style: () => kDistrictStyle,
    onEachFeature: (feature, featureLayer) => {
      if (!hoverLabels) return;
      const label = () => t('district.hover', feature.properties);
      featureLayer.bindTooltip(label, { sticky: true, className: 'district-tooltip' });
      featureLayer.on('mouseover', () => {
        featureLayer.setStyle(kDistrictHover);
        featureLayer.bringToFront();
      });
      featureLayer.on('mouseout', () => layer.resetStyle(featureLayer));
    },
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { padding: [8, 8] });

  const attribution = () => `<a href="/static/data/chongqing-districts.LICENSE.txt">${t('map.attribution')}</a>`;
  let current = attribution();
  map.attributionControl.addAttribution(current);
  onLanguageChange(() => {
    map.attributionControl.removeAttribution(current);
    current = attribution();
    map.attributionControl.addAttribution(current);
  });

  return { map, districts, layer, toDisplay, fromDisplay, L };
}

// Resolves after the browser has painted the map (two animation frames after Leaflet's ready).
export function afterPaint(map) {
  return new Promise((resolve) => {
    map.whenReady(() => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  });
}
