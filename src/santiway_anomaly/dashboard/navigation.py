"""The dashboard's pages: render function, title, URL path and icon (app.py builds the navigation from it;
the tests walk every page from it)."""

from __future__ import annotations

from santiway_anomaly.dashboard.views import anomalies, compare, device, devices_now, folders, live, model, overview

PAGES = [
    (overview.render, "Overview", "overview", ":material/dashboard:"),
    (anomalies.render, "Anomalies", "anomalies", ":material/warning:"),
    (device.render, "Device", "device", ":material/smartphone:"),
    (compare.render, "Compare", "compare", ":material/compare_arrows:"),
    (folders.render, "Folders", "folders", ":material/folder:"),
    (model.render, "Model", "model", ":material/model_training:"),
    (live.render, "Live", "live", ":material/notifications_active:"),
    (devices_now.render, "Devices now", "devices-now", ":material/sensors:"),
]
