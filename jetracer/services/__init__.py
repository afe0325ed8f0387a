"""Services: systemd units for the drive service, the OLED display and JupyterLab, and car calibration."""
