"use strict";
document.title = "static site";
