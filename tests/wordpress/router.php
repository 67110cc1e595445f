<?php
// Router for `php -S`: existing files as they are, everything else to WordPress (pretty permalinks).
$path = (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && file_exists(__DIR__ . $path)) {
    return false;
}
require __DIR__ . '/index.php';
