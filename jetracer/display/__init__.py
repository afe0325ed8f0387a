"""The SSD1306 OLED status display: system stats, drive state, rendering and the refresh service."""
